# Each output carries the checks of what it holds; a failed check stops plan (and deploy-check)
# with its message, naming the setting to change.

output "functions" {
  description = "Sizing, environment and service account id of every function, by name."
  value = {
    for name, _ in local.functions : name => merge(local.sizing[name], {
      environment        = local.environment[name]
      service_account_id = local.service_account_ids[name]
    })
  }

  precondition {
    condition     = length(local.bad_account_ids) == 0
    error_message = "These service account ids would be refused (6-30 characters: a lowercase letter, then letters, digits or hyphens, no hyphen last): ${join(", ", local.bad_account_ids)}. Rename the function in topology.yaml (fn-<name> and push-<name> must fit)."
  }
  precondition {
    condition     = length(local.all_account_ids) == length(distinct(local.all_account_ids))
    error_message = "Two functions of topology.yaml map to the same service account id (\"_\" becomes \"-\"): rename one."
  }
  precondition {
    condition     = length(local.unknown_env_names) == 0
    error_message = "function_env names functions that topology.yaml does not have: ${join(", ", local.unknown_env_names)}."
  }
  precondition {
    condition     = contains(keys(var.function_memory), "default") && contains(keys(var.function_timeout_seconds), "default") && contains(keys(var.function_concurrency), "default") && contains(keys(var.function_max_instances), "default")
    error_message = "function_memory, function_timeout_seconds, function_concurrency and function_max_instances each need a \"default\" entry."
  }
  precondition {
    condition     = length(local.unknown_sized) == 0
    error_message = "function_memory, function_timeout_seconds, function_concurrency or function_max_instances name functions that topology.yaml does not have: ${join(", ", local.unknown_sized)}."
  }
}

output "push" {
  description = "Push subscription settings of each topic-triggered function: retry, dead-lettering, ack deadline."
  value       = local.push

  precondition {
    condition     = length(local.too_slow_to_push) == 0
    error_message = "The timeout of ${join(", ", local.too_slow_to_push)} is above 600 s, Pub/Sub's longest ack deadline: a push still running would be redelivered (a duplicate). Lower function_timeout_seconds for it to 600 or less."
  }
}

output "pusher_account_ids" {
  description = "Account id of the identity that signs each push subscription's requests."
  value       = local.pusher_account_ids
}

output "public_functions" {
  description = "HTTP functions topology.yaml marks public."
  value       = local.public_functions
}

output "private_invokers" {
  description = "Every (private function, principal) pair allowed to call it, keyed function:principal."
  value = merge([
    for name in local.private : { for member in lookup(var.invoker_members, name, []) : "${name}:${member}" => { function = name, member = member } }
  ]...)

  precondition {
    condition     = length(local.unguarded) == 0
    error_message = "invoker_members gives nobody for the private function(s) ${join(", ", local.unguarded)}: every call would be refused (403). Add principals to invoker_members.<name>, or list the function in private_functions_without_invokers to deploy it uncallable on purpose."
  }
  precondition {
    condition     = length(local.unknown_invokees) == 0
    error_message = "invoker_members names functions that are not private HTTP functions of topology.yaml: ${join(", ", local.unknown_invokees)}."
  }
  precondition {
    condition     = length(local.unknown_exempt) == 0
    error_message = "private_functions_without_invokers names functions that are not private HTTP functions of topology.yaml: ${join(", ", local.unknown_exempt)}."
  }
}

output "service_names" {
  description = "Name of each function's Cloud Run service (the function's name with \"_\" as \"-\"), as Cloud Monitoring and Cloud Logging label it (resource.labels.service_name)."
  value       = local.service_names
}
