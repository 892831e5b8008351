# Logs and the alarms that matter: nodes out of the rotation (lagging or down) and broker
# disks filling (the log only grows).

resource "aws_cloudwatch_log_group" "nodes" {
  name              = "/arcstream/${var.name}/nodes"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "msk" {
  name              = "/arcstream/${var.name}/msk"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_metric_alarm" "unready_nodes" {
  alarm_name          = "${var.name}-unready-nodes"
  alarm_description   = "A node has failed /ready for 5 minutes: it is down or its projection lags the log."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags

  dimensions = {
    LoadBalancer = aws_lb.http.arn_suffix
    TargetGroup  = aws_lb_target_group.http.arn_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "ready_nodes" {
  alarm_name          = "${var.name}-too-few-ready-nodes"
  alarm_description   = "Fewer than two nodes pass /ready: one more failure stops the service."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = min(2, var.node_count)
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags

  dimensions = {
    LoadBalancer = aws_lb.http.arn_suffix
    TargetGroup  = aws_lb_target_group.http.arn_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "broker_disk" {
  count               = var.msk_broker_count
  alarm_name          = "${var.name}-broker-${count.index + 1}-disk"
  alarm_description   = "Broker ${count.index + 1}'s log volume is over 80% full although storage auto scaling should keep it near 60%: raise msk_broker_volume_max_gib or move to tiered storage."
  namespace           = "AWS/Kafka"
  metric_name         = "KafkaDataLogsDiskUsed"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags

  dimensions = {
    "Cluster Name" = aws_msk_cluster.log.cluster_name
    "Broker ID"    = tostring(count.index + 1)
  }
}
