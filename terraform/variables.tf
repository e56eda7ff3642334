variable "project_id" {
  description = "Google Cloud project that hosts the platform."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id: 6-30 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and Firestore (e.g. southamerica-east1)."
  type        = string
  default     = "southamerica-east1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like southamerica-east1."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region or a multi-region such as nam5). Cannot change after creation."
  type        = string
  default     = "southamerica-east1"
}

variable "package_dir" {
  description = "Where `make package` wrote <function>.zip files, relative to this folder."
  type        = string
  default     = "../build/package"
}

variable "function_memory" {
  description = "Memory per function instance, by function name; functions not listed get \"default\"."
  type        = map(string)
  default     = { default = "512Mi" }

  validation {
    condition     = alltrue([for m in values(var.function_memory) : can(regex("^[0-9]+(Mi|Gi)$", m))])
    error_message = "function_memory values look like 256Mi or 1Gi."
  }
}

variable "function_timeout_seconds" {
  description = "Request timeout per function, by function name; functions not listed get \"default\". forward_redrive looks for due retries for REDRIVE_RUN_SECONDS (45) and then waits for its attempts (a webhook waits 30 s at most)."
  type        = map(number)
  default     = { default = 60, forward_redrive = 120 }

  validation {
    condition     = alltrue([for t in values(var.function_timeout_seconds) : t >= 1 && t <= 3600])
    error_message = "function_timeout_seconds must be between 1 and 3600."
  }
}

variable "function_concurrency" {
  description = "Concurrent requests per instance (THREADS is set to match), by function name or \"default\"."
  type        = map(number)
  default     = { default = 80 }

  validation {
    condition     = alltrue([for c in values(var.function_concurrency) : c >= 1 && c <= 1000])
    error_message = "function_concurrency must be between 1 and 1000."
  }
}

variable "function_max_instances" {
  description = "Maximum instances per function, by function name or \"default\"."
  type        = map(number)
  default     = { default = 20 }

  validation {
    condition     = alltrue([for n in values(var.function_max_instances) : n >= 1])
    error_message = "function_max_instances must be at least 1."
  }
}

variable "function_env" {
  description = "Extra environment variables by function name (e.g. beacon's allowed CORS origins)."
  type        = map(map(string))
  default     = {}
}

variable "max_delivery_attempts" {
  description = "Push deliveries of one message before it goes to the consumer's dead-letter topic (Pub/Sub allows 5-100). Null: topology.yaml's push_defaults, as in the local stack."
  type        = number
  default     = null

  validation {
    condition     = var.max_delivery_attempts == null || (coalesce(var.max_delivery_attempts, 5) >= 5 && coalesce(var.max_delivery_attempts, 5) <= 100)
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "invoker_members" {
  description = "Principals allowed to call the private HTTP functions (ingest, monitor, reports), e.g. serviceAccount:app@proj.iam.gserviceaccount.com."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|serviceAccount|group|domain):", m))])
    error_message = "invoker_members entries must start with user:, serviceAccount:, group: or domain:."
  }
}

variable "partner_secret_ids" {
  description = "Secret Manager secret ids holding partner webhook signing secrets and MongoDB connection strings. Terraform creates the containers; operators add versions."
  type        = list(string)
  default     = []
}
