# The ordered half of the archive: the event log, one topic with one partition on MSK.

resource "aws_msk_configuration" "log" {
  name           = "${var.name}-log"
  kafka_versions = [var.msk_kafka_version]

  # Broker defaults that protect the log even if a topic is created by hand:
  # no auto-created topics (a typo in a URI must fail, not make a topic with defaults),
  # nothing expires (the log is the archive), an out-of-sync replica never becomes leader
  # (that would silently drop acknowledged events).
  server_properties = <<-EOT
    auto.create.topics.enable=false
    default.replication.factor=${var.topic_replication_factor}
    min.insync.replicas=${var.topic_min_insync_replicas}
    num.partitions=1
    unclean.leader.election.enable=false
    log.retention.ms=-1
  EOT

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "log" {
  cluster_name           = "${var.name}-log"
  kafka_version          = var.msk_kafka_version
  number_of_broker_nodes = var.msk_broker_count

  broker_node_group_info {
    instance_type   = var.msk_broker_instance_type
    client_subnets  = var.private_subnet_ids
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_broker_volume_gib
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.log.arn
    revision = aws_msk_configuration.log.latest_revision
  }

  # Inside the VPC the security group is the boundary; the node's kafka:// URI speaks
  # plaintext on 9092 (docs/operations.md: TLS and IAM auth to the brokers).
  client_authentication {
    unauthenticated = true
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.archive.arn

    encryption_in_transit {
      client_broker = "TLS_PLAINTEXT"
      in_cluster    = true
    }
  }

  enhanced_monitoring = "PER_TOPIC_PER_PARTITION"

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk.name
      }
    }
  }

  tags = local.tags

  lifecycle {
    # The cluster holds the log, the other half of the archive.
    prevent_destroy = true

    precondition {
      condition     = var.msk_broker_count >= var.topic_replication_factor
      error_message = "msk_broker_count must be at least topic_replication_factor."
    }
    precondition {
      condition     = var.msk_broker_count % length(var.private_subnet_ids) == 0
      error_message = "MSK spreads brokers evenly: msk_broker_count must be a multiple of the number of private subnets."
    }
    precondition {
      condition     = var.topic_min_insync_replicas < var.topic_replication_factor
      error_message = "topic_min_insync_replicas must be below topic_replication_factor, or one broker down stops every write."
    }
  }
}

# The log never expires, so broker disks only grow: let MSK grow them before they fill.
resource "aws_appautoscaling_target" "msk_storage" {
  service_namespace  = "kafka"
  resource_id        = aws_msk_cluster.log.arn
  scalable_dimension = "kafka:broker-storage:VolumeSize"
  min_capacity       = 1
  max_capacity       = var.msk_broker_volume_max_gib
}

resource "aws_appautoscaling_policy" "msk_storage" {
  name               = "${var.name}-broker-storage"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.msk_storage.service_namespace
  resource_id        = aws_appautoscaling_target.msk_storage.resource_id
  scalable_dimension = aws_appautoscaling_target.msk_storage.scalable_dimension

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "KafkaBrokerStorageUtilization"
    }
    target_value = 60
  }
}
