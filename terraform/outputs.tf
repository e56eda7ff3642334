output "function_urls" {
  description = "URL of every function, by name."
  value = merge(
    { for name, m in module.http_function : name => m.url },
    { for name, m in module.pushed_function : name => m.url },
  )
}

output "topics" {
  description = "Platform topics, by name."
  value       = { for name, t in google_pubsub_topic.platform : name => t.id }
}

output "dead_letter_topics" {
  description = "Dead-letter topic of each topic-triggered function."
  value       = { for name, m in module.pushed_function : name => m.dead_letter_topic }
}

output "dead_letter_subscriptions" {
  description = "Pull subscription holding each function's dead letters for replay (admin CLI)."
  value       = { for name, m in module.pushed_function : name => m.dead_letter_subscription }
}

output "source_bucket" {
  description = "Bucket holding the packaged function sources."
  value       = google_storage_bucket.sources.name
}
