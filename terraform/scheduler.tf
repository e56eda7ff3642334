# Scheduled functions (topology.yaml: an HTTP function with `schedule`), e.g. forward_redrive,
# which makes the retries of failed deliveries when they are due. Cloud Scheduler calls each
# with an OIDC token of its own service account, the only principal allowed to invoke it.

resource "google_service_account" "scheduler" {
  account_id   = "fn-scheduler"
  display_name = "Cloud Scheduler calling scheduled functions"
  description  = "Invokes the functions of topology.yaml that have a schedule, nothing else."
  depends_on   = [google_project_service.required]
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes" {
  for_each = local.scheduled_functions
  location = var.region
  service  = module.http_function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "function" {
  for_each         = local.scheduled_functions
  name             = replace(each.key, "_", "-")
  description      = try(each.value.description, "")
  region           = var.region
  schedule         = each.value.schedule.cron
  time_zone        = "Etc/UTC"
  attempt_deadline = "${local.settings[each.key].timeout_seconds}s"

  # A missed run is not retried: the next one, a minute later, finds the same due work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${module.http_function[each.key].url}${each.value.schedule.path}"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = module.http_function[each.key].url
    }
  }

  depends_on = [google_project_service.required]
}
