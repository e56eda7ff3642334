# HTTP functions (ingest, beacon, monitor, ...): every function of topology.yaml with trigger "http".
# Topic-triggered functions are in pubsub.tf, through modules/pushed_function.

locals {
  # What modules/function takes, for every function of topology.yaml.
  function_inputs = {
    for name, f in local.functions : name => {
      name                  = name
      description           = try(f.description, "")
      project_id            = var.project_id
      region                = var.region
      source_bucket         = google_storage_bucket.sources.name
      source_object         = google_storage_bucket_object.source[name].name
      service_account_email = google_service_account.function[name].email
      environment           = local.environment[name]
      secrets               = try(f.secrets, {})
      memory                = local.settings[name].memory
      timeout_seconds       = local.settings[name].timeout
      concurrency           = local.settings[name].concurrency
      max_instances         = local.settings[name].max_instances
    }
  }
}

module "http_function" {
  source   = "./modules/function"
  for_each = local.http_functions

  function = local.function_inputs[each.key]
  # Called from outside Google Cloud (platform apps, browsers, external systems); a scheduled
  # function only by Cloud Scheduler, whose requests count as internal.
  ingress    = contains(keys(local.scheduled_functions), each.key) ? "ALLOW_INTERNAL_ONLY" : "ALLOW_ALL"
  depends_on = [google_project_service.required]
}

# beacon is called by storefront browsers: public. Everything else needs an allowed principal.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  #checkov:skip=CKV_GCP_102:beacon is fired by storefront browsers with navigator.sendBeacon, which cannot authenticate; it is public by design (architecture.md, Security).
  for_each = local.public_functions
  location = var.region
  service  = module.http_function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "private_invoker" {
  for_each = { for pair in setproduct(local.private_functions, var.invoker_members) : "${pair[0]}:${pair[1]}" => { function = pair[0], member = pair[1] } }
  location = var.region
  service  = module.http_function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
