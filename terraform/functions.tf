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
      build_service_account = google_service_account.builder.id
      environment           = local.settings[name].environment
      secrets               = try(f.secrets, {})
      memory                = local.settings[name].memory
      timeout_seconds       = local.settings[name].timeout_seconds
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
  ingress = contains(keys(local.scheduled_functions), each.key) ? "ALLOW_INTERNAL_ONLY" : "ALLOW_ALL"
  # The publishing functions come after every push subscription (and its grants) exists, so
  # nothing they publish during the first apply finds a topic without its consumers.
  depends_on = [google_project_service.required, module.pushed_function, google_project_iam_member.builder]
}

# beacon is called by storefront browsers: public, by an allUsers grant unless the operator
# chose to turn off Cloud Run's invoker IAM check instead (beacon_public_access, README "Org policies").
resource "google_cloud_run_service_iam_member" "public_invoker" {
  #checkov:skip=CKV_GCP_102:beacon is fired by storefront browsers with navigator.sendBeacon, which cannot authenticate; it is public by design (architecture.md, Security).
  for_each = var.beacon_public_access == "allUsers" ? local.public_functions : toset([])
  location = var.region
  service  = module.http_function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Everything else needs a principal of invoker_members (module.settings refuses a private
# function with nobody unless private_functions_without_invokers lists it).
resource "google_cloud_run_service_iam_member" "private_invoker" {
  for_each = module.settings.private_invokers
  location = var.region
  service  = module.http_function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
