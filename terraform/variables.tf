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
  description = "Request timeout per function, by function name; functions not listed get \"default\". forward_redrive looks for due retries for REDRIVE_RUN_SECONDS (45) and then waits for its attempts (a webhook waits 30 s at most)."
  type        = map(number)
  default     = { default = 60, forward_redrive = 120 }

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
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/ID) every alert policy notifies ([]: incidents are only shown in the console). Create them once in the console or with gcloud (README, \"Operating\")."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "alert_notification_channels entries look like projects/<project>/notificationChannels/<id>."
  }
}

# -- Alert thresholds (README, "Operating"). By function name where a map, with a "default" entry.

variable "alert_dead_letter_messages" {
  description = "Messages waiting in a <forwarder>-dead-letter-hold subscription above which its alert fires (0: any dead letter)."
  type        = number
  default     = 0

  validation {
    condition     = var.alert_dead_letter_messages >= 0
    error_message = "alert_dead_letter_messages must be 0 or more."
  }
}

variable "alert_oldest_unacked_seconds" {
  description = "Age in seconds of a push subscription's oldest unacknowledged message above which its alert fires, by topic-triggered function (the subscription's name) or \"default\"."
  type        = map(number)
  default     = { default = 900 }

  validation {
    condition     = contains(keys(var.alert_oldest_unacked_seconds), "default") && alltrue([for s in values(var.alert_oldest_unacked_seconds) : s >= 60])
    error_message = "alert_oldest_unacked_seconds needs a \"default\" entry, and every value is 60 seconds or more (Pub/Sub samples the age once a minute)."
  }
}

variable "alert_error_ratio" {
  description = "Share of a function's requests answered 5xx over 5 minutes (0.05: 5 %) above which its alert fires, by function name or \"default\". Forwarders answer 503 when a partner destination fails."
  type        = map(number)
  default     = { default = 0.05 }

  validation {
    condition     = contains(keys(var.alert_error_ratio), "default") && alltrue([for r in values(var.alert_error_ratio) : r >= 0 && r < 1])
    error_message = "alert_error_ratio needs a \"default\" entry, and every value is a share from 0 to below 1 (0.05 is 5 %)."
  }
}

variable "alert_latency_p99_ms" {
  description = "A function's 99th percentile request latency over 5 minutes, in milliseconds, above which its alert fires, by function name or \"default\". Forwarders wait for their partners (webhooks up to 30 s, MongoDB server selection 5 s, Cloud Storage 10 s), and one forward_redrive run lasts REDRIVE_RUN_SECONDS (45 s) plus its attempts, hence their higher defaults."
  type        = map(number)
  default     = { default = 5000, forward_webhook = 35000, forward_mongodb = 15000, forward_gcs = 15000, forward_redrive = 115000 }

  validation {
    condition     = contains(keys(var.alert_latency_p99_ms), "default") && alltrue([for ms in values(var.alert_latency_p99_ms) : ms > 0])
    error_message = "alert_latency_p99_ms needs a \"default\" entry, and every value is above 0 milliseconds."
  }
}

variable "alert_failed_dependency_per_minute" {
  description = "ingest's failed_dependency (424) answers per minute, averaged over 5 minutes, above which its alert fires (each event of a batch counts)."
  type        = number
  default     = 1

  validation {
    condition     = var.alert_failed_dependency_per_minute >= 0
    error_message = "alert_failed_dependency_per_minute must be 0 or more."
  }
}
