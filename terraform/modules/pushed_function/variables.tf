variable "name" {
  description = "Function name (topology.yaml key); also the push subscription's name."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "project_id" {
  description = "Project of the platform."
  type        = string
}

variable "project_number" {
  description = "Project number, to name the Pub/Sub service agent."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "topic_id" {
  description = "Topic whose messages invoke the function (projects/P/topics/T)."
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
  description = "Request timeout; also bounds one delivery attempt."
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

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (5-100)."
  type        = number

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "min_backoff" {
  description = "Minimum retry backoff, e.g. 10s."
  type        = string
}

variable "max_backoff" {
  description = "Maximum retry backoff, at most 600s."
  type        = string
}

variable "ack_deadline_seconds" {
  description = "How long Pub/Sub waits for the push response."
  type        = number
}

variable "dead_letter_retention" {
  description = "How long dead letters are kept for replay."
  type        = string
}

variable "dead_letter_hold_name" {
  description = "Name of the pull subscription that keeps dead letters for replay."
  type        = string
}

variable "dead_letter_ack_seconds" {
  description = "Ack deadline of the dead-letter hold subscription (the replay tool's lease)."
  type        = number
}
