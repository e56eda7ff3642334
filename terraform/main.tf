# The platform's shape comes from ../topology.yaml (local.topology, settings.tf), the same file
# the local stack reads (tools/stack.py): topics, functions, their push subscriptions and
# Firestore TTL collections. Sizing, environment, invokers and push settings come from
# module.settings (settings.tf), which checks them.

locals {
  topics           = keys(local.topology.topics)
  functions        = local.topology.functions
  http_functions   = { for name, f in local.functions : name => f if f.trigger == "http" }
  pushed_functions = { for name, f in local.functions : name => f if f.trigger == "topic" }
  public_functions = toset([for name, f in local.http_functions : name if try(f.public, false)])
  # Invoked by Cloud Scheduler only (scheduler.tf): internal, not callable by invoker_members.
  scheduled_functions = { for name, f in local.http_functions : name => f if try(f.schedule, null) != null }
  ttl_collections     = toset(try(local.topology.firestore.ttl_collections, []))
  # Keyed by collection and fields (" desc" after a descending one: an index and its reverse differ).
  firestore_indexes = { for i in try(local.topology.firestore.indexes, []) : "${i.collection}:${join(",", [for f in i.fields : f[1] == "DESCENDING" ? "${f[0]} desc" : f[0]])}" => i }
  settings          = module.settings.functions

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
}

resource "google_project_service" "required" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    # data.google_project reads the project through it (also enabled by the bootstrap, since
    # the provider needs it before this resource exists: README, "Deploying").
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

# The project number names the Pub/Sub service agent. Read after the APIs are enabled.
data "google_project" "current" {
  depends_on = [google_project_service.required]
}
