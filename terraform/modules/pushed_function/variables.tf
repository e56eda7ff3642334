variable "function" {
  description = "The function the subscription pushes to, as modules/function takes it (that module checks its type)."
  type        = any
}

variable "pusher_account_id" {
  description = "Account id of the identity that signs the push requests (modules/settings checks its length)."
  type        = string
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
  description = "How long Pub/Sub waits for the push response: never less than the function's timeout (modules/settings derives it)."
  type        = number

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600."
  }
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
