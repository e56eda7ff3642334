variable "function" {
  description = "The function to deploy: its topology.yaml name (also its entry point in main.py), source zip, identity and sizing."
  type = object({
    name                  = string
    description           = optional(string, "")
    project_id            = string
    region                = string
    source_bucket         = string
    source_object         = string
    service_account_email = string
    # The account Cloud Build builds the function as: projects/P/serviceAccounts/EMAIL.
    build_service_account = string
    environment           = optional(map(string), {})
    # Environment variable name => Secret Manager secret id, mounted at the latest version.
    secrets         = optional(map(string), {})
    memory          = string
    timeout_seconds = number
    concurrency     = number
    max_instances   = number
  })
}

variable "ingress" {
  description = "ALLOW_ALL for functions called from outside Google Cloud, ALLOW_INTERNAL_ONLY for pushed ones."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}
