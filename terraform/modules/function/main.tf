# One Cloud Function (2nd gen, python312) built from a `make package` zip: the shape every
# function of the platform shares, HTTP-called or pushed by a subscription.

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Ingress is the caller's input: HTTP functions called from outside Google Cloud (apps, browsers, external systems) pass ALLOW_ALL and are guarded by IAM or, for beacon, CORS and validation; pushed functions pass ALLOW_INTERNAL_ONLY.
  name        = replace(var.function.name, "_", "-")
  location    = var.function.region
  description = var.function.description

  build_config {
    runtime         = "python312"
    entry_point     = var.function.name
    service_account = var.function.build_service_account
    source {
      storage_source {
        bucket = var.function.source_bucket
        object = var.function.source_object
      }
    }
  }

  service_config {
    available_memory                 = var.function.memory
    timeout_seconds                  = var.function.timeout_seconds
    max_instance_request_concurrency = var.function.concurrency
    available_cpu                    = "1"
    max_instance_count               = var.function.max_instances
    service_account_email            = var.function.service_account_email
    environment_variables            = var.function.environment
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true

    dynamic "secret_environment_variables" {
      for_each = var.function.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.function.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }
}
