# The operator's settings: the one place the pipeline (terraform plan -var-file, cloudbuild.yaml
# substitution _TFVARS) and `make deploy-check` read them from. Copy this file to
# terraform/environments/deploy.tfvars (git-ignored, uploaded by `gcloud builds submit` through
# .gcloudignore) and fill it in; `make deploy-check PROJECT_ID=<project>` names whatever is
# missing or refused. Nothing here is secret: secret *values* go to Secret Manager only.
# Every variable is described in terraform/variables.tf. The project is the build's own.

# Region of the functions, the source bucket and (unless firestore_location says otherwise) Firestore.
region = "southamerica-east1"

# Who may call the private functions (Cloud Run invoker). Apps send a Google ID token in
# X-Serverless-Authorization and their API key in Authorization (README, "Deploying").
# A private function with nobody here is refused, unless listed in
# private_functions_without_invokers (deployed uncallable on purpose).
invoker_members = {
  ingest  = ["serviceAccount:platform-app@my-project.iam.gserviceaccount.com"]
  monitor = ["serviceAccount:crm-sync@my-project.iam.gserviceaccount.com"]
  reports = ["group:retail-media-analysts@example.com"]
}
private_functions_without_invokers = []

# Origins of the publishers' storefronts allowed to fire beacons (CORS). https only.
beacon_allowed_origins = ["https://shop.example.com", "https://www.example-store.com.br"]

# "allUsers", or "invoker-iam-check-disabled" where the Domain Restricted Sharing org policy
# refuses allUsers (README, "Org policies").
beacon_public_access = "allUsers"

# Secret Manager secret ids the forwarders may read (partner webhook signing secrets, MongoDB
# connection strings). Terraform creates the empty containers; add versions with
#   printf %s "$VALUE" | gcloud secrets versions add <id> --data-file=-
# [] is a valid answer while no partner needs a secret.
partner_secret_ids = ["company-xpto-webhook", "company-xpto-mongodb"]

# Cloud Monitoring notification channels every alert notifies (README, "Operating"): create them
# once, e.g. gcloud beta monitoring channels create --type=email --display-name="FPASS on-call" \
#   --channel-labels=email_address=oncall@example.com
# then list their names with: gcloud beta monitoring channels list --format='value(name)'
# [] deploys the alerts without notifications (incidents show in the console only).
alert_notification_channels = ["projects/my-project/notificationChannels/1234567890"]

# Alert thresholds (defaults in variables.tf, each alert explained in README, "Operating"); maps are
# by function name with a "default" entry:
# alert_dead_letter_messages         = 0                  # dead letters waiting for replay
# alert_oldest_unacked_seconds       = { default = 900 }  # a push subscription's oldest message
# alert_error_ratio                  = { default = 0.05 } # share of requests answered 5xx, 5 minutes
# alert_latency_p99_ms               = { default = 5000, forward_webhook = 35000, forward_mongodb = 15000, forward_gcs = 15000, forward_redrive = 115000 }
# alert_failed_dependency_per_minute = 1                  # ingest's 424 answers, 5-minute average

# Optional tuning (defaults in variables.tf): function_memory, function_timeout_seconds,
# function_concurrency, function_max_instances, function_env, max_delivery_attempts.
# function_timeout_seconds = { default = 60, reports = 120 }
