resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  depends_on                        = [google_project_service.required]
}

# Every collection whose documents carry `expireAt` (topology.yaml firestore.ttl_collections).
# TTL deletion is lazy (typically within 24 h): the code treats a past expireAt as absent.
resource "google_firestore_field" "expire_at_ttl" {
  for_each   = local.ttl_collections
  database   = google_firestore_database.default.name
  collection = each.value
  field      = "expireAt"

  ttl_config {}

  # No single-field index on a timestamp written once and never queried.
  index_config {}
}

resource "google_firestore_index" "composite" {
  for_each   = local.firestore_indexes
  database   = google_firestore_database.default.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}
