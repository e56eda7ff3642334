# The platform's shape comes from ../topology.yaml, the same file the local stack reads
# (tools/stack.py): topics, functions, their push subscriptions and Firestore TTL collections.

locals {
  topology = yamldecode(file("${path.module}/../topology.yaml"))

  topics           = keys(local.topology.topics)
  functions        = local.topology.functions
  http_functions   = { for name, f in local.functions : name => f if f.trigger == "http" }
  pushed_functions = { for name, f in local.functions : name => f if f.trigger == "topic" }
  public_functions = toset([for name, f in local.http_functions : name if try(f.public, false)])
  # Invoked by Cloud Scheduler only (scheduler.tf): internal, not callable by invoker_members.
  scheduled_functions = { for name, f in local.http_functions : name => f if try(f.schedule, null) != null }
  private_functions   = toset([for name, f in local.http_functions : name if !try(f.public, false) && !contains(keys(local.scheduled_functions), name)])
  ttl_collections     = toset(try(local.topology.firestore.ttl_collections, []))
  firestore_indexes   = { for i in try(local.topology.firestore.indexes, []) : "${i.collection}:${join(",", [for f in i.fields : f[0]])}" => i }
  push_defaults       = local.topology.push_defaults

  # Settings of each function: a per-function value if given, else the "default" entry.
  settings = {
    for name, _ in local.functions : name => {
      memory        = lookup(var.function_memory, name, var.function_memory["default"])
      timeout       = lookup(var.function_timeout_seconds, name, var.function_timeout_seconds["default"])
      concurrency   = lookup(var.function_concurrency, name, var.function_concurrency["default"])
      max_instances = lookup(var.function_max_instances, name, var.function_max_instances["default"])
    }
  }

  # What each function may touch, from topology.yaml: topics it publishes to, Firestore, and
  # partner secrets (forwarders only). Nothing else is granted.
  publisher_grants = merge([
    for name, f in local.functions : { for topic in try(f.publishes, []) : "${name}:${topic}" => { function = name, topic = topic } }
  ]...)
  # A function that holds events for others (the re-driver) publishes to their dead-letter topics.
  dead_letter_grants = merge([
    for name, f in local.functions : { for of in try(f.dead_letters_of, []) : "${name}:${of}" => { function = name, of = of } }
  ]...)
  firestore_users   = toset([for name, f in local.functions : name if try(f.firestore, false)])
  secret_readers    = toset([for name, f in local.functions : name if try(f.partner_secrets, false)])
  secret_reader_ids = { for pair in setproduct(local.secret_readers, var.partner_secret_ids) : "${pair[0]}:${pair[1]}" => { function = pair[0], secret = pair[1] } }

  environment = {
    for name, f in local.functions : name => merge(
      { GOOGLE_CLOUD_PROJECT = var.project_id, THREADS = tostring(local.settings[name].concurrency) },
      { for k, v in try(f.env, {}) : k => tostring(v) },
      lookup(var.function_env, name, {}),
    )
  }
}

data "google_project" "current" {}

resource "google_project_service" "required" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}
