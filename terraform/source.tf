# Function sources: the zips of `make package`, named after their SHA-256 so that a changed
# function is redeployed and an unchanged one is not. A changed zip is a new object: Terraform
# deletes the old one, which versioning keeps as a noncurrent version; those are deleted 30 days
# later (an object name never gets a newer version, so a num_newer_versions rule never fires).

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket only Cloud Build and Cloud Functions read add cost, not insight; Cloud Audit Logs cover it.
  name                        = "${var.project_id}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions
  name     = "${each.key}-${filesha256("${path.module}/${var.package_dir}/${each.key}.zip")}.zip"
  bucket   = google_storage_bucket.sources.name
  source   = "${path.module}/${var.package_dir}/${each.key}.zip"
}
