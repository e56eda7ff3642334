# The platform's settings, derived from topology.yaml and the operator's variables, and checked
# together. No provider: `make deploy-check` and the tests run this module with the real
# Terraform offline, so every check below is exercised before a deployment ever plans.

locals {
  functions        = var.topology.functions
  http_functions   = { for name, f in local.functions : name => f if f.trigger == "http" }
  pushed_functions = { for name, f in local.functions : name => f if f.trigger == "topic" }
  public_functions = toset([for name, f in local.http_functions : name if try(f.public, false)])
  # Private HTTP functions called by invoker_members; a scheduled one (scheduler.tf) only by Cloud Scheduler.
  private       = toset([for name, f in local.http_functions : name if !try(f.public, false) && try(f.schedule, null) == null])
  push_defaults = var.topology.push_defaults

  # Sizing of each function: its own value if given, else the "default" entry. Concurrency: the
  # operator's value for the function, else topology.yaml's (measured: docs/performance.md).
  sizing = {
    for name, f in local.functions : name => {
      memory          = lookup(var.function_memory, name, var.function_memory["default"])
      timeout_seconds = lookup(var.function_timeout_seconds, name, var.function_timeout_seconds["default"])
      concurrency     = lookup(var.function_concurrency, name, try(f.concurrency, var.function_concurrency["default"]))
      max_instances   = lookup(var.function_max_instances, name, var.function_max_instances["default"])
    }
  }

  # Environment variables the operator gives through their own settings.
  operator_env = {
    beacon = { BEACON_ALLOWED_ORIGINS = join(",", var.beacon_allowed_origins) }
  }

  environment = {
    for name, f in local.functions : name => merge(
      { GOOGLE_CLOUD_PROJECT = var.project_id, THREADS = tostring(local.sizing[name].concurrency) },
      { for k, v in try(f.env, {}) : k => tostring(v) },
      lookup(local.operator_env, name, {}),
      lookup(var.function_env, name, {}),
    )
  }

  # Pub/Sub waits for a push's answer until the ack deadline, then redelivers: a function still
  # running then gets the same message again. So the deadline is never shorter than the
  # function's timeout; Pub/Sub allows at most 600 s (checked on the output below).
  push = {
    for name, f in local.pushed_functions : name => {
      topic                 = f.topic
      max_delivery_attempts = coalesce(var.max_delivery_attempts, try(f.push.max_delivery_attempts, local.push_defaults.max_delivery_attempts))
      min_backoff           = "${try(f.push.min_backoff_seconds, local.push_defaults.min_backoff_seconds)}s"
      max_backoff           = "${try(f.push.max_backoff_seconds, local.push_defaults.max_backoff_seconds)}s"
      ack_deadline_seconds  = max(try(f.push.ack_deadline_seconds, local.push_defaults.ack_deadline_seconds), local.sizing[name].timeout_seconds)
    }
  }

  # Service account ids: 6-30 characters, a lowercase letter first, letters, digits and hyphens,
  # no hyphen last. A function name that does not fit is refused here, not by the API mid-apply.
  account_id_pattern  = "^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
  service_names       = { for name, _ in local.functions : name => replace(name, "_", "-") }
  service_account_ids = { for name, _ in local.functions : name => "fn-${local.service_names[name]}" }
  pusher_account_ids  = { for name, _ in local.pushed_functions : name => "push-${local.service_names[name]}" }
  all_account_ids     = concat(values(local.service_account_ids), values(local.pusher_account_ids), ["fn-builder"])
  bad_account_ids     = [for id in local.all_account_ids : id if !can(regex(local.account_id_pattern, id))]

  # Private HTTP functions and who may call them.
  unguarded         = sort([for name in local.private : name if length(lookup(var.invoker_members, name, [])) == 0 && !contains(var.private_functions_without_invokers, name)])
  unknown_invokees  = sort([for name in keys(var.invoker_members) : name if !contains(tolist(local.private), name)])
  unknown_exempt    = sort([for name in var.private_functions_without_invokers : name if !contains(tolist(local.private), name)])
  unknown_env_names = sort([for name in keys(var.function_env) : name if !contains(keys(local.functions), name)])
  unknown_sized = sort(distinct(flatten([
    for m in [var.function_memory, var.function_timeout_seconds, var.function_concurrency, var.function_max_instances] :
    [for name in keys(m) : name if name != "default" && !contains(keys(local.functions), name)]
  ])))
  too_slow_to_push = sort([for name, p in local.push : name if p.ack_deadline_seconds > 600])
}
