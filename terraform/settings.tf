# What the platform's shape (../topology.yaml, the same file the local stack reads) and the
# operator's variables make of each function, checked together in modules/settings, and of its
# monitoring (modules/monitoring). This file, variables.tf and those modules need no provider:
# `make deploy-check` and the tests run them with the real Terraform offline (tools/deploy_check.py).

locals {
  topology = yamldecode(file("${path.module}/../topology.yaml"))
}

module "settings" {
  source = "./modules/settings"

  topology                           = local.topology
  project_id                         = var.project_id
  function_memory                    = var.function_memory
  function_timeout_seconds           = var.function_timeout_seconds
  function_concurrency               = var.function_concurrency
  function_max_instances             = var.function_max_instances
  function_env                       = var.function_env
  max_delivery_attempts              = var.max_delivery_attempts
  invoker_members                    = var.invoker_members
  private_functions_without_invokers = var.private_functions_without_invokers
  beacon_allowed_origins             = var.beacon_allowed_origins
}

# Log-based metrics, alert policies and the dashboard (monitoring.tf creates them).
module "monitoring" {
  source = "./modules/monitoring"

  topology                     = local.topology
  service_names                = module.settings.service_names
  dead_letter_messages         = var.alert_dead_letter_messages
  oldest_unacked_seconds       = var.alert_oldest_unacked_seconds
  error_ratio                  = var.alert_error_ratio
  latency_p99_ms               = var.alert_latency_p99_ms
  failed_dependency_per_minute = var.alert_failed_dependency_per_minute
}
