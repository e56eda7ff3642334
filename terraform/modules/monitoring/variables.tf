variable "topology" {
  description = "topology.yaml, decoded: functions, push subscriptions, dead letters and monitoring.log_metrics."
  type        = any
}

variable "service_names" {
  description = "Cloud Run service name of each function (module.settings.service_names)."
  type        = map(string)
}

variable "dead_letter_messages" {
  description = "Messages waiting in a dead-letter hold subscription above which its alert fires."
  type        = number
}

variable "oldest_unacked_seconds" {
  description = "Age of a push subscription's oldest unacknowledged message above which its alert fires, by function or \"default\"."
  type        = map(number)
}

variable "error_ratio" {
  description = "Share of a function's requests answered 5xx above which its alert fires, by function or \"default\"."
  type        = map(number)
}

variable "latency_p99_ms" {
  description = "A function's p99 request latency (ms) above which its alert fires, by function or \"default\"."
  type        = map(number)
}

variable "failed_dependency_per_minute" {
  description = "ingest's failed_dependency (424) answers per minute above which its alert fires."
  type        = number
}
