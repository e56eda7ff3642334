output "name" {
  description = "The function's (and its Cloud Run service's) name."
  value       = google_cloudfunctions2_function.this.name
}

output "url" {
  description = "The function's URL."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}
