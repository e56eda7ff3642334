# HTTP functions (ingest, beacon, monitor, ...): every function of topology.yaml with trigger "http".
# Topic-triggered functions are in pubsub.tf, through modules/pushed_function.

resource "google_cloudfunctions2_function" "http" {
  #checkov:skip=CKV_GCP_124:HTTP functions are called from outside Google Cloud (platform apps, browsers, external systems); IAM (run.invoker) or, for beacon, CORS and validation guard them.
  for_each    = local.http_functions
  name        = replace(each.key, "_", "-")
  location    = var.region
  description = try(each.value.description, "")

  build_config {
    runtime     = "python312"
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = local.settings[each.key].memory
    timeout_seconds                  = local.settings[each.key].timeout
    max_instance_request_concurrency = local.settings[each.key].concurrency
    available_cpu                    = "1"
    max_instance_count               = local.settings[each.key].max_instances
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.environment[each.key]
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true

    dynamic "secret_environment_variables" {
      for_each = try(each.value.secrets, {})
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_service.required]
}

# beacon is called by storefront browsers: public. Everything else needs an allowed principal.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  #checkov:skip=CKV_GCP_102:beacon is fired by storefront browsers with navigator.sendBeacon, which cannot authenticate; it is public by design (architecture.md, Security).
  for_each = local.public_functions
  location = var.region
  service  = google_cloudfunctions2_function.http[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "private_invoker" {
  for_each = { for pair in setproduct(local.private_functions, var.invoker_members) : "${pair[0]}:${pair[1]}" => { function = pair[0], member = pair[1] } }
  location = var.region
  service  = google_cloudfunctions2_function.http[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
