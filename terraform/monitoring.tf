# What the on-call engineer sees (README, "Operating"): log-based metrics, alert policies and one
# dashboard. Their content comes from modules/monitoring (settings.tf), derived from topology.yaml
# and the operator's thresholds; this file only turns it into resources, field for field.

resource "google_logging_metric" "platform" {
  for_each         = module.monitoring.log_metrics
  name             = each.value.name
  description      = each.value.description
  filter           = each.value.filter
  label_extractors = each.value.label_extractors
  value_extractor  = each.value.value_extractor

  dynamic "bucket_options" {
    for_each = each.value.bucket_options[*]
    content {
      exponential_buckets {
        num_finite_buckets = bucket_options.value.exponential_buckets.num_finite_buckets
        growth_factor      = bucket_options.value.exponential_buckets.growth_factor
        scale              = bucket_options.value.exponential_buckets.scale
      }
    }
  }

  metric_descriptor {
    metric_kind  = each.value.metric_descriptor.metric_kind
    value_type   = each.value.metric_descriptor.value_type
    unit         = each.value.metric_descriptor.unit
    display_name = each.value.metric_descriptor.display_name

    dynamic "labels" {
      for_each = each.value.metric_descriptor.labels
      content {
        key         = labels.value.key
        value_type  = labels.value.value_type
        description = labels.value.description
      }
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_alert_policy" "platform" {
  for_each              = module.monitoring.alert_policies
  display_name          = each.value.display_name
  severity              = each.value.severity
  combiner              = each.value.combiner
  notification_channels = var.alert_notification_channels

  documentation {
    subject   = each.value.documentation.subject
    content   = each.value.documentation.content
    mime_type = each.value.documentation.mime_type
  }

  alert_strategy {
    auto_close = each.value.alert_strategy.auto_close
  }

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.display_name

      condition_threshold {
        filter                  = conditions.value.condition_threshold.filter
        comparison              = conditions.value.condition_threshold.comparison
        threshold_value         = conditions.value.condition_threshold.threshold_value
        duration                = conditions.value.condition_threshold.duration
        denominator_filter      = conditions.value.condition_threshold.denominator_filter
        evaluation_missing_data = conditions.value.condition_threshold.evaluation_missing_data

        dynamic "aggregations" {
          for_each = conditions.value.condition_threshold.aggregations
          content {
            alignment_period     = aggregations.value.alignment_period
            per_series_aligner   = aggregations.value.per_series_aligner
            cross_series_reducer = aggregations.value.cross_series_reducer
            group_by_fields      = aggregations.value.group_by_fields
          }
        }

        dynamic "denominator_aggregations" {
          for_each = conditions.value.condition_threshold.denominator_aggregations
          content {
            alignment_period     = denominator_aggregations.value.alignment_period
            per_series_aligner   = denominator_aggregations.value.per_series_aligner
            cross_series_reducer = denominator_aggregations.value.cross_series_reducer
            group_by_fields      = denominator_aggregations.value.group_by_fields
          }
        }
      }
    }
  }

  # A condition on a log-based metric is refused until that metric exists.
  depends_on = [google_project_service.required, google_logging_metric.platform]
}

resource "google_monitoring_dashboard" "operations" {
  dashboard_json = module.monitoring.dashboard_json
  depends_on     = [google_project_service.required, google_logging_metric.platform]
}
