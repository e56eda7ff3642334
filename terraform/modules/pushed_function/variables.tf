variable "function" {
  description = "The function the subscription pushes to, as modules/function takes it (that module checks its type)."
  type        = any
}

variable "project_number" {
  description = "Project number, to name the Pub/Sub service agent."
  type        = string
}

variable "topic_id" {
  description = "Topic whose messages invoke the function (projects/P/topics/T)."
  type        = string
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
