# The repeated shape of the platform: a function invoked by a push subscription on a topic,
# with an exponential-backoff retry policy, OIDC-authenticated pushes, and a dead-letter topic
# whose messages wait in a pull subscription for replay (admin CLI).

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

locals {
  pubsub_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

module "function" {
  source = "../function"
  # The function holds an event itself before Pub/Sub would dead-letter it (docs/forwarding.md).
  function = merge(var.function, {
    environment = merge(var.function.environment, { PUBSUB_MAX_DELIVERY_ATTEMPTS = tostring(var.max_delivery_attempts) })
  })
  # Reachable by its push subscription only: internal ingress plus run.invoker for the pusher.
  ingress = "ALLOW_INTERNAL_ONLY"
}

# The identity Pub/Sub uses to sign push requests (OIDC); the only invoker of the function.
resource "google_service_account" "pusher" {
  account_id   = var.pusher_account_id
  display_name = "Pub/Sub push to ${var.function.name}"
}

resource "google_cloud_run_service_iam_member" "pusher_invokes" {
  location = var.function.region
  service  = module.function.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pusher.email}"
}

# Pub/Sub's service agent mints the OIDC tokens of the pusher account.
resource "google_service_account_iam_member" "agent_signs_as_pusher" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption, as for the platform topics (see pubsub.tf).
  name                       = "${var.function.name}-dead-letter"
  message_retention_duration = var.dead_letter_retention
}

resource "google_pubsub_subscription" "push" {
  name                       = var.function.name
  topic                      = var.topic_id
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = module.function.url
    oidc_token {
      service_account_email = google_service_account.pusher.email
      audience              = module.function.url
    }
  }

  retry_policy {
    minimum_backoff = var.min_backoff
    maximum_backoff = var.max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  # Pushing starts once the subscription exists: first let the pusher invoke the function and
  # the service agent sign as the pusher and publish dead letters, so that nothing published
  # during the first apply fails its pushes for want of a grant (and is dead-lettered).
  depends_on = [
    google_cloud_run_service_iam_member.pusher_invokes,
    google_service_account_iam_member.agent_signs_as_pusher,
    google_pubsub_topic_iam_member.agent_publishes_dead_letters,
    google_pubsub_subscription.dead_letter_hold,
  ]
}

# Dead letters are kept here until replayed; a topic without a subscription would drop them.
resource "google_pubsub_subscription" "dead_letter_hold" {
  name                       = var.dead_letter_hold_name
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = var.dead_letter_ack_seconds
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# The function itself dead-letters the events it holds (unknown or paused partner, retries exhausted ...).
resource "google_pubsub_topic_iam_member" "function_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${var.function.service_account_email}"
}

# Dead-lettering: the service agent publishes to the dead-letter topic and acks the original.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards_from_push" {
  subscription = google_pubsub_subscription.push.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
