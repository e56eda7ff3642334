variable "topology" {
  description = "topology.yaml, decoded: functions, their triggers, push settings."
  type        = any
}

variable "project_id" {
  description = "Google Cloud project that hosts the platform."
  type        = string
}

variable "function_memory" {
  description = "Memory per function by name, or \"default\"."
  type        = map(string)
}

variable "function_timeout_seconds" {
  description = "Request timeout per function by name, or \"default\"."
  type        = map(number)
}

variable "function_concurrency" {
  description = "Concurrent requests per instance by name, or \"default\"."
  type        = map(number)
}

variable "function_max_instances" {
  description = "Maximum instances per function by name, or \"default\"."
  type        = map(number)
}

variable "function_env" {
  description = "Extra environment variables by function name."
  type        = map(map(string))
}

variable "max_delivery_attempts" {
  description = "Push deliveries before dead-lettering, or null for topology.yaml's value."
  type        = number
  default     = null
}

variable "invoker_members" {
  description = "Principals allowed to call each private HTTP function, by function name."
  type        = map(list(string))
}

variable "private_functions_without_invokers" {
  description = "Private HTTP functions deliberately deployed with nobody allowed to call them."
  type        = list(string)
}

variable "beacon_allowed_origins" {
  description = "Browser origins of the publishers' storefronts (beacon's BEACON_ALLOWED_ORIGINS)."
  type        = list(string)
}
