# What the on-call engineer watches, derived from topology.yaml and the operator's thresholds:
# the log-based metrics, the alert policies and the dashboard, as plain values in the field names
# of the provider (and of the Cloud Monitoring and Logging APIs). No provider: monitoring.tf turns
# them into resources, and the offline checks (tools/monitoring_checks.py) render this module with
# the real Terraform to check every metric type, label, subscription and function it names.

locals {
  functions      = var.topology.functions
  function_names = sort(keys(local.functions))
  pushed         = sort([for name, f in local.functions : name if f.trigger == "topic"])
  # Names Terraform gives (pubsub.tf, modules/pushed_function): a push subscription is named
  # after its function; its dead letters wait in <function>-dead-letter<suffix>.
  hold_subscriptions = sort([for name in local.pushed : "${name}-dead-letter${var.topology.dead_letters.hold_subscription_suffix}"])
  services           = sort([for name in local.function_names : var.service_names[name]])

  builtin = {
    undelivered    = "pubsub.googleapis.com/subscription/num_undelivered_messages"
    oldest_unacked = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
    requests       = "run.googleapis.com/request_count"
    latencies      = "run.googleapis.com/request_latencies"
  }
  log_metric_type = { for id, _ in var.topology.monitoring.log_metrics : id => "logging.googleapis.com/user/fpass/${id}" }

  # Filter terms. Functions (2nd gen) run as Cloud Run services: their requests, latencies and
  # log lines are labelled with resource.type cloud_run_revision and the service's name.
  revisions       = "resource.type=\"cloud_run_revision\""
  subscriptions   = "resource.type=\"pubsub_subscription\""
  quoted_service  = { for name in local.function_names : name => jsonencode(var.service_names[name]) }
  every_service   = "resource.labels.service_name=one_of(${join(", ", values(local.quoted_service))})"
  by_service      = ["resource.label.service_name"]
  by_subscription = ["resource.label.subscription_id"]
  # Rates, ratios and percentiles over 5 minutes, so that one slow or failed request among few
  # does not page anyone; gauges (backlogs, ages) as their maximum per minute.
  window = "300s"

  # -- log-based metrics: one per topology.yaml monitoring.log_metrics entry ------------------------

  log_metrics = {
    for id, m in var.topology.monitoring.log_metrics : id => {
      name        = "fpass/${id}"
      description = m.description
      filter = join(" AND ", [
        "log_id(\"run.googleapis.com/stdout\")",
        local.revisions,
        "resource.labels.service_name=(${join(" OR ", [for s in local.services : jsonencode(s)])})",
        "jsonPayload.message=(${join(" OR ", [for text in m.messages : jsonencode(text)])})",
      ])
      label_extractors = { for label, field in m.labels : label => "EXTRACT(jsonPayload.${field})" }
      # A metric with a `value` sums a field of the lines (a batch's one line for n events).
      value_extractor = try(m.value, null) == null ? null : "EXTRACT(jsonPayload.${m.value})"
      # Powers of two from 1 to 4096: a batch holds at most MAX_BATCH_EVENTS events.
      bucket_options = try(m.value, null) == null ? null : { exponential_buckets = { num_finite_buckets = 13, growth_factor = 2, scale = 1 } }
      metric_descriptor = {
        metric_kind  = "DELTA"
        value_type   = try(m.value, null) == null ? "INT64" : "DISTRIBUTION"
        unit         = "1"
        display_name = "FPASS ${replace(id, "_", " ")}"
        labels       = [for label, field in m.labels : { key = label, value_type = "STRING", description = "The log line's ${field}." }]
      }
    }
  }

  # -- alert policies -----------------------------------------------------------------------------

  # Each function's threshold, then the functions sharing each value: one condition per value
  # watches all of them (Cloud Monitoring bills alerting per condition, and per time series read:
  # one condition per function would cost more for the same time series).
  thresholds = {
    error_ratio    = { for name in local.function_names : name => lookup(var.error_ratio, name, var.error_ratio["default"]) }
    latency_p99_ms = { for name in local.function_names : name => lookup(var.latency_p99_ms, name, var.latency_p99_ms["default"]) }
    oldest_unacked = { for name in local.pushed : name => lookup(var.oldest_unacked_seconds, name, var.oldest_unacked_seconds["default"]) }
  }
  groups = {
    for setting, by_function in local.thresholds : setting => [
      for value in distinct(values(by_function)) : {
        threshold = value
        functions = sort([for name, v in by_function : name if v == value])
      }
    ]
  }
  unknown_threshold_names = sort(distinct(concat(
    [for name in keys(var.error_ratio) : name if name != "default" && !contains(local.function_names, name)],
    [for name in keys(var.latency_p99_ms) : name if name != "default" && !contains(local.function_names, name)],
    [for name in keys(var.oldest_unacked_seconds) : name if name != "default" && !contains(local.pushed, name)],
  )))
  runbook = "Runbook: README.md, \"Operating\"."
  # What every policy shares: any condition opens an incident, which closes by itself 30 minutes
  # after its condition stops receiving data.
  policy = { combiner = "OR", alert_strategy = { auto_close = "1800s" } }
  # What every condition shares: it holds as soon as an aligned value is above the threshold, and
  # no data (no traffic, no log line) is no incident. Only the 5xx ratio has a denominator.
  threshold = {
    comparison               = "COMPARISON_GT"
    duration                 = "0s"
    denominator_filter       = null
    denominator_aggregations = []
    evaluation_missing_data  = "EVALUATION_MISSING_DATA_INACTIVE"
  }

  alert_policies = {
    dead_letters = merge(local.policy, {
      display_name = "FPASS: dead letters waiting for replay"
      severity     = "WARNING"
      documentation = {
        subject   = "FPASS: dead letters waiting in $${resource.label.subscription_id}"
        mime_type = "text/markdown"
        content   = <<-EOT
          Messages wait in the dead-letter hold subscription $${resource.label.subscription_id}: a
          function gave up on them (max delivery attempts, an event too old to retry, or a malformed
          message). They are kept for ${var.topology.dead_letters.message_retention_seconds / 86400} days, then lost.
          List them (`tools.admin deadletters list --function <function>`), fix the cause, then
          `tools.admin deadletters replay`.
          ${local.runbook}
        EOT
      }
      conditions = [{
        display_name = "More than ${var.dead_letter_messages} message(s) in a dead-letter hold subscription"
        condition_threshold = merge(local.threshold, {
          filter          = join(" AND ", ["metric.type=\"${local.builtin.undelivered}\"", local.subscriptions, "resource.labels.subscription_id=one_of(${join(", ", [for s in local.hold_subscriptions : jsonencode(s)])})"])
          threshold_value = var.dead_letter_messages
          aggregations    = [{ alignment_period = "60s", per_series_aligner = "ALIGN_MAX", cross_series_reducer = "REDUCE_MAX", group_by_fields = local.by_subscription }]
        })
      }]
    })

    push_backlog_age = merge(local.policy, {
      display_name = "FPASS: a push subscription's oldest message is waiting too long"
      severity     = "ERROR"
      documentation = {
        subject   = "FPASS: events wait too long in $${resource.label.subscription_id}"
        mime_type = "text/markdown"
        content   = <<-EOT
          The oldest unacknowledged message of push subscription $${resource.label.subscription_id}
          is older than its threshold: its function is failing, slow, or not being invoked, and every
          event behind it is late. Look at the function's 5xx and latency, the failures per partner
          (dashboard) and the function's logs. ${local.runbook}
        EOT
      }
      conditions = [for g in local.groups.oldest_unacked : {
        display_name = "Oldest unacknowledged message older than ${g.threshold} s: ${join(", ", g.functions)}"
        condition_threshold = merge(local.threshold, {
          filter          = join(" AND ", ["metric.type=\"${local.builtin.oldest_unacked}\"", local.subscriptions, "resource.labels.subscription_id=one_of(${join(", ", [for name in g.functions : jsonencode(name)])})"])
          threshold_value = g.threshold
          aggregations    = [{ alignment_period = "60s", per_series_aligner = "ALIGN_MAX", cross_series_reducer = "REDUCE_MAX", group_by_fields = local.by_subscription }]
        })
      }]
    })

    error_ratio = merge(local.policy, {
      display_name = "FPASS: a function answers too many 5xx"
      severity     = "ERROR"
      documentation = {
        subject   = "FPASS: $${resource.label.service_name} answers too many 5xx"
        mime_type = "text/markdown"
        content   = <<-EOT
          Over the last 5 minutes, more of $${resource.label.service_name}'s requests were answered 5xx
          than its threshold allows. A forwarder answers 503 when a partner destination fails (Pub/Sub
          then retries): see the failures per partner on the dashboard. Any other function: read its
          "unexpected failure" log lines (with their stack). ${local.runbook}
        EOT
      }
      conditions = [for g in local.groups.error_ratio : {
        display_name = "5xx answers above ${g.threshold * 100} % of requests: ${join(", ", g.functions)}"
        condition_threshold = merge(local.threshold, {
          filter                   = join(" AND ", ["metric.type=\"${local.builtin.requests}\"", local.revisions, "resource.labels.service_name=one_of(${join(", ", [for name in g.functions : local.quoted_service[name]])})", "metric.labels.response_code_class=\"5xx\""])
          threshold_value          = g.threshold
          aggregations             = [{ alignment_period = local.window, per_series_aligner = "ALIGN_DELTA", cross_series_reducer = "REDUCE_SUM", group_by_fields = local.by_service }]
          denominator_filter       = join(" AND ", ["metric.type=\"${local.builtin.requests}\"", local.revisions, "resource.labels.service_name=one_of(${join(", ", [for name in g.functions : local.quoted_service[name]])})"])
          denominator_aggregations = [{ alignment_period = local.window, per_series_aligner = "ALIGN_DELTA", cross_series_reducer = "REDUCE_SUM", group_by_fields = local.by_service }]
        })
      }]
    })

    latency = merge(local.policy, {
      display_name = "FPASS: a function is slow (p99 latency)"
      severity     = "WARNING"
      documentation = {
        subject   = "FPASS: $${resource.label.service_name} is slow"
        mime_type = "text/markdown"
        content   = <<-EOT
          Over the last 5 minutes, $${resource.label.service_name}'s 99th percentile request latency
          was above its threshold. A forwarder waits for its partners: see which destinations are
          slow in its "delivered" / "delivery failed" log lines. Otherwise look at the function's
          instances (max instances reached?) and at Pub/Sub or Firestore latency. ${local.runbook}
        EOT
      }
      conditions = [for g in local.groups.latency_p99_ms : {
        display_name = "p99 latency above ${g.threshold} ms: ${join(", ", g.functions)}"
        condition_threshold = merge(local.threshold, {
          filter          = join(" AND ", ["metric.type=\"${local.builtin.latencies}\"", local.revisions, "resource.labels.service_name=one_of(${join(", ", [for name in g.functions : local.quoted_service[name]])})"])
          threshold_value = g.threshold
          aggregations    = [{ alignment_period = local.window, per_series_aligner = "ALIGN_DELTA", cross_series_reducer = "REDUCE_PERCENTILE_99", group_by_fields = local.by_service }]
        })
      }]
    })

    ingest_failed_dependency = merge(local.policy, {
      display_name = "FPASS: ingest cannot publish (failed_dependency answers)"
      severity     = "CRITICAL"
      documentation = {
        subject   = "FPASS: ingest answers failed_dependency: events are not accepted"
        mime_type = "text/markdown"
        content   = <<-EOT
          ingest could not publish events to Pub/Sub (unreachable, or no confirmation in time) and
          answered failed_dependency (424, PUBSUB_UNAVAILABLE): those events are not in the platform
          until their senders resend them. Check Pub/Sub's status and quotas, topic "events" and
          ingest's service account (publisher role), and ingest's "publish failed" log lines.
          ${local.runbook}
        EOT
      }
      conditions = [{
        display_name = "More than ${var.failed_dependency_per_minute} failed_dependency answer(s) per minute (5-minute average)"
        condition_threshold = merge(local.threshold, {
          filter          = join(" AND ", ["metric.type=\"${local.log_metric_type.publish_failures}\"", local.revisions, "resource.labels.service_name=${local.quoted_service.ingest}"])
          threshold_value = var.failed_dependency_per_minute * 5
          aggregations    = [{ alignment_period = local.window, per_series_aligner = "ALIGN_DELTA", cross_series_reducer = "REDUCE_SUM", group_by_fields = local.by_service }]
        })
      }]
    })
  }
}

# -- the dashboard -------------------------------------------------------------------------------

locals {
  every_subscription = "resource.labels.subscription_id=one_of(${join(", ", [for s in concat(local.pushed, local.hold_subscriptions) : jsonencode(s)])})"
  # What a chart shows: every function, or every push and dead-letter hold subscription.
  over = {
    functions     = "${local.revisions} AND ${local.every_service}"
    subscriptions = "${local.subscriptions} AND ${local.every_subscription}"
  }

  # Each chart: a metric over every function or subscription, narrowed by `where`, aligned per
  # minute and grouped; a ratio chart divides the narrowed series by the whole.
  charts = [
    {
      # A distribution (a batch logs one line for its n events): a heatmap of lines by events each.
      title   = "Events in: published to topic \"events\" per minute, by event type (lines by events they carry)"
      metric  = local.log_metric_type.events_published, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["metric.label.event_type"], ratio = false
      plot    = "HEATMAP"
    },
    {
      title   = "Requests per second, by function and response class"
      metric  = local.builtin.requests, over = "functions", where = []
      aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name", "metric.label.response_code_class"], ratio = false
    },
    {
      title   = "Deliveries per second, by destination kind and result"
      metric  = local.log_metric_type.deliveries, over = "functions", where = []
      aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.kind", "metric.label.result"], ratio = false
    },
    {
      title   = "Failed deliveries per minute, by partner and destination kind"
      metric  = local.log_metric_type.deliveries, over = "functions", where = ["metric.labels.result=\"delivery failed\""]
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["metric.label.partner", "metric.label.kind"], ratio = false
    },
    {
      title   = "Backlog: undelivered messages, by subscription (push, and dead-letter hold)"
      metric  = local.builtin.undelivered, over = "subscriptions", where = []
      aligner = "ALIGN_MAX", reducer = "REDUCE_SUM", group_by = ["resource.label.subscription_id"], ratio = false
    },
    {
      title   = "Oldest unacknowledged message age (s), by subscription"
      metric  = local.builtin.oldest_unacked, over = "subscriptions", where = []
      aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["resource.label.subscription_id"], ratio = false
    },
    {
      title   = "p99 request latency (ms), by function"
      metric  = local.builtin.latencies, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_99", group_by = ["resource.label.service_name"], ratio = false
    },
    {
      title   = "Share of requests answered 5xx, by function"
      metric  = local.builtin.requests, over = "functions", where = ["metric.labels.response_code_class=\"5xx\""]
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name"], ratio = true
    },
    {
      title   = "Events held (dead letters with a reason) per minute, by function and reason"
      metric  = local.log_metric_type.dead_letters, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name", "metric.label.reason"], ratio = false
    },
    {
      title   = "ingest answers per minute, by kind and code"
      metric  = local.log_metric_type.answers, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["metric.label.kind", "metric.label.code"], ratio = false
    },
    {
      title   = "monitor refusals per minute, by code"
      metric  = local.log_metric_type.refusals, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name", "metric.label.code"], ratio = false
    },
    {
      title   = "Events not published (failed_dependency answers) per minute, by function"
      metric  = local.log_metric_type.publish_failures, over = "functions", where = []
      aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name"], ratio = false
    },
  ]
  # Each chart's series, narrowed (by `where`) and whole.
  chart_series = [for row in local.charts : {
    for part, where in { narrowed = row.where, whole = [] } : part => {
      filter                      = join(" AND ", concat(["metric.type=\"${row.metric}\"", local.over[row.over]], where))
      aggregation                 = { alignmentPeriod = "60s", perSeriesAligner = row.aligner, crossSeriesReducer = row.reducer, groupByFields = row.group_by }
    }
  }]
  chart_widgets = [
    for i, row in local.charts : {
      title = row.title
      xyChart = {
        dataSets = [{
          plotType       = try(row.plot, "LINE")
          legendTemplate = join(" ", [for field in row.group_by : "$${${field}}"])
          # A timeSeriesFilterRatio or a timeSeriesFilter: picked by index, since a conditional
          # cannot return two objects of different shapes.
          timeSeriesQuery = [
            { timeSeriesFilter = local.chart_series[i].narrowed },
            { timeSeriesFilterRatio = { numerator = local.chart_series[i].narrowed, denominator = local.chart_series[i].whole } },
          ][row.ratio ? 1 : 0]
        }]
        yAxis = { scale = "LINEAR" }
      }
    }
  ]

  # A mosaic of 48 columns: a note on top, then the charts two by two.
  chart_width  = 24
  chart_height = 16
  note_height  = 4
  dashboard = {
    displayName = "FPASS operations"
    mosaicLayout = {
      columns = 48
      tiles = concat(
        [{
          xPos   = 0, yPos = 0, width = 48, height = local.note_height
          widget = { title = "About", text = { format = "MARKDOWN", content = "Platform functions and subscriptions of topology.yaml. What each alert means and what to do: README.md, \"Operating\". Log-based metrics count the functions' log lines (topology.yaml `monitoring.log_metrics`)." } }
        }],
        [for i, widget in local.chart_widgets : {
          xPos   = (i % 2) * local.chart_width
          yPos   = local.note_height + floor(i / 2) * local.chart_height
          width  = local.chart_width
          height = local.chart_height
          widget = widget
        }],
      )
    }
  }
}
