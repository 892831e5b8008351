# Two roles: the execution role lets ECS pull the image and write logs; the task role is
# the node's identity for the archive (the bucket, its key, the log topic). A node needs
# nothing else, and no static credentials exist anywhere.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-node-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ListArchive"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"]
    resources = [aws_s3_bucket.archive.arn]
  }

  # Delete is needed: purges free blobs, old snapshot generations are removed; with
  # versioning a delete leaves a non-current version for noncurrent_version_days.
  statement {
    sid = "UseArchiveObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.archive.arn}/${var.store_prefix}/*"]
  }

  statement {
    sid       = "ArchiveKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.archive.arn]
  }

  # Used once the brokers require IAM client authentication (port 9098); harmless before.
  statement {
    sid = "EventLogCluster"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [aws_msk_cluster.log.arn]
  }

  statement {
    sid = "EventLogTopic"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = ["arn:${local.partition}:kafka:${local.region}:${local.account_id}:topic/${aws_msk_cluster.log.cluster_name}/${aws_msk_cluster.log.cluster_uuid}/${var.topic}"]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "archive"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
