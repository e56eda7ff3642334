output "url" {
  description = "The function's URL (push endpoint)."
  value       = module.function.url
}

output "dead_letter_topic" {
  description = "Where messages go after max_delivery_attempts failed pushes."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead letters for replay."
  value       = google_pubsub_subscription.dead_letter_hold.id
}
