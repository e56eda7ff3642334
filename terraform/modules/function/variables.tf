variable "name" {
  description = "Function name (topology.yaml key), also its entry point in main.py."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "project_id" {
  description = "Project of the platform (for mounted secrets)."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "source_bucket" {
  description = "Bucket of the packaged source."
  type        = string
}

variable "source_object" {
  description = "Object of the packaged source (named after its hash)."
  type        = string
}

variable "service_account_email" {
  description = "The function's own service account."
  type        = string
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variable name => Secret Manager secret id, mounted at the latest version."
  type        = map(string)
  default     = {}
}

variable "memory" {
  description = "Memory per instance, e.g. 512Mi."
  type        = string
}

variable "timeout_seconds" {
  description = "Request timeout."
  type        = number
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
}

variable "max_instances" {
  description = "Maximum instances."
  type        = number
}

variable "ingress" {
  description = "ALLOW_ALL for functions called from outside Google Cloud, ALLOW_INTERNAL_ONLY for pushed ones."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}
