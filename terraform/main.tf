# arcstream on AWS: the archive (an S3 bucket and an MSK topic) and the disposable nodes
# (an ECS Fargate service behind an application load balancer). See README.md for why
# Fargate and how the parts fit; docs/operations.md for running it.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  http_port      = 8080
  dimse_port     = 11112
  container_name = "arcstream"

  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  bucket_name = coalesce(var.bucket_name, "${var.name}-archive-${local.account_id}-${local.region}")

  # The node's two archive URIs. MSK lists its brokers as host:port,host:port, which is
  # the authority the kafka:// URI takes.
  log_uri   = "kafka://${aws_msk_cluster.log.bootstrap_brokers}/${var.topic}?replication_factor=${var.topic_replication_factor}&min_insync_replicas=${var.topic_min_insync_replicas}"
  store_uri = "s3://${aws_s3_bucket.archive.id}/${var.store_prefix}?region=${local.region}"

  # No ARCSTREAM_NODE_ID: a Fargate task's host name is unique, and that is the default.
  # No credentials: the task role reaches the SDK's default chain.
  node_environment = merge({
    ARCSTREAM_LISTEN          = "0.0.0.0:${local.http_port}"
    ARCSTREAM_AET             = var.aet
    ARCSTREAM_DATA_DIR        = "/data"
    ARCSTREAM_LOG             = local.log_uri
    ARCSTREAM_STORE           = local.store_uri
    ARCSTREAM_SNAPSHOT_EVENTS = tostring(var.snapshot_events)
    RUST_LOG                  = var.rust_log
  }, var.extra_environment)

  tags = merge({
    "app.kubernetes.io/part-of" = "arcstream"
    "arcstream:deployment"      = var.name
  }, var.tags)
}
