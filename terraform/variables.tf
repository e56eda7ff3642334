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
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like southamerica-east1 or europe-west10."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region or a multi-region such as nam5); null: the region. Cannot change after creation."
  type        = string
  default     = null
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
  description = "Request timeout per function, by function name; functions not listed get \"default\"."
  type        = map(number)
  default     = { default = 60 }

  validation {
    condition     = alltrue([for t in values(var.function_timeout_seconds) : t >= 1 && t <= 3600])
    error_message = "function_timeout_seconds must be between 1 and 3600."
  }
}

variable "function_concurrency" {
  description = "Concurrent requests per instance (THREADS is set to match), by function name; a function not listed gets its topology.yaml concurrency, else \"default\"."
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

# -- Operator settings: no default, so a plan without them fails naming them (README, "Deploying").

variable "invoker_members" {
  description = "Principals allowed to call each private HTTP function (ingest, monitor, reports), by function name, e.g. { ingest = [\"serviceAccount:app@proj.iam.gserviceaccount.com\"] }. A private function with nobody is refused unless listed in private_functions_without_invokers."
  type        = map(list(string))

  validation {
    condition     = alltrue([for m in flatten(values(var.invoker_members)) : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+", m))])
    error_message = "invoker_members entries must start with user:, serviceAccount:, group:, domain:, principal: or principalSet: (allUsers and allAuthenticatedUsers are refused: these functions are private)."
  }
}

variable "private_functions_without_invokers" {
  description = "Private HTTP functions you deploy on purpose with nobody allowed to call them (every call answered 403), e.g. [\"reports\"] before its dashboards exist."
  type        = list(string)
  default     = []
}

variable "beacon_allowed_origins" {
  description = "Browser origins (https://host[:port]) of the publishers' storefronts: beacon answers their CORS requests and refuses every other browser origin (BEACON_ALLOWED_ORIGINS)."
  type        = list(string)

  validation {
    condition     = length(var.beacon_allowed_origins) > 0
    error_message = "beacon_allowed_origins is empty: every browser would be refused. List the storefronts' origins, e.g. [\"https://shop.example.com\"]."
  }
  validation {
    condition     = alltrue([for o in var.beacon_allowed_origins : can(regex("^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", o))])
    error_message = "beacon_allowed_origins entries are origins: https://, a lowercase host, an optional port, no path and no trailing slash (never \"*\")."
  }
}

variable "beacon_public_access" {
  description = "How beacon is made public: \"allUsers\" (a roles/run.invoker grant, refused where the Domain Restricted Sharing org policy holds) or \"invoker-iam-check-disabled\" (no grant; `make post-apply`, the pipeline's last step, turns off Cloud Run's invoker IAM check). README, \"Org policies\"."
  type        = string
  default     = "allUsers"

  validation {
    condition     = contains(["allUsers", "invoker-iam-check-disabled"], var.beacon_public_access)
    error_message = "beacon_public_access must be \"allUsers\" or \"invoker-iam-check-disabled\"."
  }
}

variable "partner_secret_ids" {
  description = "Secret Manager secret ids holding partner webhook signing secrets and MongoDB connection strings ([] when no partner needs one yet). Terraform creates the containers and lets the forwarders read them; operators add the versions (values)."
  type        = list(string)

  validation {
    condition     = alltrue([for id in var.partner_secret_ids : can(regex("^[A-Za-z0-9_-]{1,255}$", id))])
    error_message = "partner_secret_ids are secret ids (letters, digits, _ and -), not resource names or values."
  }
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/ID) that alerts will notify. Not used yet: the alerts come with a later change."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "alert_notification_channels entries look like projects/<project>/notificationChannels/<id>."
  }
}
