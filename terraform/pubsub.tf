# Topics of topology.yaml, and each topic-triggered function with its push subscription and
# dead-letter topic (modules/pushed_function).

resource "google_pubsub_topic" "platform" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is the platform's choice for event data; CMEK can be added with a key variable when a partner contract requires it.
  for_each                   = toset(local.topics)
  name                       = each.value
  message_retention_duration = "86400s"
  depends_on                 = [google_project_service.required]
}

module "pushed_function" {
  source   = "./modules/pushed_function"
  for_each = local.pushed_functions

  function                = local.function_inputs[each.key]
  pusher_account_id       = module.settings.pusher_account_ids[each.key]
  project_number          = data.google_project.current.number
  topic_id                = google_pubsub_topic.platform[each.value.topic].id
  max_delivery_attempts   = module.settings.push[each.key].max_delivery_attempts
  min_backoff             = module.settings.push[each.key].min_backoff
  max_backoff             = module.settings.push[each.key].max_backoff
  ack_deadline_seconds    = module.settings.push[each.key].ack_deadline_seconds
  dead_letter_retention   = "${local.topology.dead_letters.message_retention_seconds}s"
  dead_letter_hold_name   = "${each.key}-dead-letter${local.topology.dead_letters.hold_subscription_suffix}"
  dead_letter_ack_seconds = local.topology.dead_letters.ack_deadline_seconds

  depends_on = [google_project_service.required, google_project_iam_member.builder]
}
