output "dicomweb_url" {
  description = "Base URL of DICOMweb (QIDO-RS, WADO-RS, STOW-RS) through the load balancer."
  value       = "${var.certificate_arn == null ? "http" : "https"}://${aws_lb.http.dns_name}/aets/${var.aet}/rs"
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer; point the archive's host name at it (alias record)."
  value       = aws_lb.http.dns_name
}

output "load_balancer_zone_id" {
  description = "Hosted zone of the load balancer, for an alias record."
  value       = aws_lb.http.zone_id
}

output "bucket_name" {
  description = "The archive bucket."
  value       = aws_s3_bucket.archive.id
}

output "bucket_arn" {
  description = "ARN of the archive bucket (for replication rules and backup policies)."
  value       = aws_s3_bucket.archive.arn
}

output "kms_key_arn" {
  description = "The key that encrypts the bucket and the brokers' volumes. Losing it loses the archive."
  value       = aws_kms_key.archive.arn
}

output "msk_cluster_arn" {
  description = "ARN of the MSK cluster holding the event log."
  value       = aws_msk_cluster.log.arn
}

output "msk_bootstrap_brokers" {
  description = "Plaintext bootstrap brokers (host:port,…) as the nodes use them."
  value       = aws_msk_cluster.log.bootstrap_brokers
}

output "msk_bootstrap_brokers_tls" {
  description = "TLS bootstrap brokers, for tools and for MirrorMaker 2 to another region."
  value       = aws_msk_cluster.log.bootstrap_brokers_tls
}

output "log_uri" {
  description = "ARCSTREAM_LOG of the nodes: to run `arcstream` tools (reindex, events) against the same log."
  value       = local.log_uri
}

output "store_uri" {
  description = "ARCSTREAM_STORE of the nodes."
  value       = local.store_uri
}

output "ecs_cluster_name" {
  description = "ECS cluster of the nodes."
  value       = aws_ecs_cluster.nodes.name
}

output "ecs_service_name" {
  description = "ECS service of the nodes (scale with desired count; upgrade by a new task definition)."
  value       = aws_ecs_service.nodes.name
}

output "task_role_arn" {
  description = "The nodes' IAM role (what may touch the bucket and the log)."
  value       = aws_iam_role.task.arn
}

output "node_security_group_id" {
  description = "Security group of the nodes (allow it where nodes must reach more)."
  value       = aws_security_group.nodes.id
}

output "node_log_group" {
  description = "CloudWatch log group of the nodes."
  value       = aws_cloudwatch_log_group.nodes.name
}
