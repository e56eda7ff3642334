# What the platform's shape (../topology.yaml, the same file the local stack reads) and the
# operator's variables make of each function, checked together in modules/settings. This file,
# variables.tf and that module need no provider: `make deploy-check` and the tests run them with
# the real Terraform offline (tools/deploy_check.py).

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
