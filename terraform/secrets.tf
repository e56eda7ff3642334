# Containers only: operators add secret versions (values) out of band, so no secret value is
# ever in Terraform state or git. Partner configs refer to them by resource name.
resource "google_secret_manager_secret" "partner" {
  for_each  = toset(var.partner_secret_ids)
  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.required]
}
