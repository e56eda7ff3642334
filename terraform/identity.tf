# One service account per function, holding only what topology.yaml says the function uses.

resource "google_service_account" "function" {
  for_each     = local.functions
  account_id   = local.settings[each.key].service_account_id
  display_name = "Cloud Function ${each.key}"
  description  = try(each.value.description, "")
  depends_on   = [google_project_service.required]
}

resource "google_pubsub_topic_iam_member" "function_publishes" {
  for_each = local.publisher_grants
  topic    = google_pubsub_topic.platform[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_pubsub_topic_iam_member" "function_publishes_dead_letters_of" {
  for_each = local.dead_letter_grants
  topic    = module.pushed_function[each.value.of].dead_letter_topic
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Firestore has no per-collection IAM: datastore.user is the narrowest role that reads and writes.
resource "google_project_iam_member" "function_firestore" {
  for_each = local.firestore_users
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
  # Firestore's roles exist in IAM once its API is enabled.
  depends_on = [google_project_service.required]
}

resource "google_secret_manager_secret_iam_member" "function_reads_partner_secret" {
  for_each  = local.secret_reader_ids
  secret_id = google_secret_manager_secret.partner[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Functions log through stdout; Cloud Run writes those lines with the service account.
resource "google_project_iam_member" "function_logs" {
  for_each   = local.functions
  project    = var.project_id
  role       = "roles/logging.logWriter"
  member     = "serviceAccount:${google_service_account.function[each.key].email}"
  depends_on = [google_project_service.required]
}

# The identity Cloud Build runs the functions' builds as (build_config.service_account). Without
# it, builds run as the project's default build account, which in organisations enforcing
# iam.automaticIamGrantsForDefaultServiceAccounts is the Compute Engine default account without
# any role: every build would fail. Roles: Google's list for a custom function build account
# (logs, the built image in Artifact Registry, reading the source from Cloud Storage).
resource "google_service_account" "builder" {
  account_id   = "fn-builder"
  display_name = "Cloud Functions builds"
  description  = "Builds the platform's functions (Cloud Build)."
  depends_on   = [google_project_service.required]
}

resource "google_project_iam_member" "builder" {
  for_each   = toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"])
  project    = var.project_id
  role       = each.value
  member     = "serviceAccount:${google_service_account.builder.email}"
  depends_on = [google_project_service.required]
}
