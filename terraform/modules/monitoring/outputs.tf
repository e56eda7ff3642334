# Each output carries the checks of what it holds; a failed check stops plan (and deploy-check)
# with its message, naming the setting to change.

output "log_metrics" {
  description = "Log-based metrics by id: google_logging_metric arguments (name, filter, label extractors, descriptor)."
  value       = local.log_metrics
}

output "alert_policies" {
  description = "Alert policies by id: google_monitoring_alert_policy arguments (display name, severity, documentation, conditions)."
  value       = local.alert_policies

  precondition {
    condition     = length(local.unknown_threshold_names) == 0
    error_message = "alert_error_ratio, alert_latency_p99_ms or alert_oldest_unacked_seconds name functions that topology.yaml does not have (alert_oldest_unacked_seconds: topic-triggered functions only): ${join(", ", local.unknown_threshold_names)}."
  }
  precondition {
    condition     = alltrue([for setting, groups in local.groups : length(groups) <= 6])
    error_message = "An alert policy holds at most 6 conditions, one per distinct threshold value: give alert_error_ratio, alert_latency_p99_ms and alert_oldest_unacked_seconds at most 6 distinct values each."
  }
}

output "dashboard_json" {
  description = "The operations dashboard, as the Cloud Monitoring API's Dashboard JSON."
  value       = jsonencode(local.dashboard)
}
