# Inputs of the arcstream module. Defaults are a small production layout: three nodes,
# three brokers over the given subnets, a versioned KMS-encrypted bucket.

variable "name" {
  description = "Prefix of every resource name (lower case, digits and dashes)."
  type        = string
  default     = "arcstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2 to 21 characters, lower case letters, digits and dashes, starting with a letter (load balancer names are at most 32 characters)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# --- network -------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC to deploy into."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone: the nodes and the MSK brokers run here. They need a route to ECR (a NAT gateway or interface endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "MSK and the load balancer need subnets in at least two availability zones; three are recommended."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets for an internet-facing load balancer; unused when alb_internal is true."
  type        = list(string)
  default     = []
}

variable "private_route_table_ids" {
  description = "Route tables of the private subnets. When given, an S3 gateway endpoint is added so blob traffic does not pass (and pay for) the NAT gateway."
  type        = list(string)
  default     = []
}

variable "alb_internal" {
  description = "Whether the load balancer is internal (reachable only from the VPC and its peers)."
  type        = bool
  default     = true
}

variable "alb_ingress_cidrs" {
  description = "Address ranges allowed to reach the load balancer on ports 80 and 443 (the modalities', viewers' and RIS's networks). No default: who may reach an archive of patient data is a decision, not a default."
  type        = list(string)

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0
    error_message = "Give at least one address range."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener. Without one the load balancer serves plain HTTP on port 80 (only for a private test setup: DICOMweb carries patient data)."
  type        = string
  default     = null
}

# --- nodes ---------------------------------------------------------------------------

variable "image" {
  description = "Container image of the node, built from infra/docker/Dockerfile and pushed to a registry the tasks can pull from (e.g. ECR)."
  type        = string
}

variable "node_count" {
  description = "Number of nodes. Each serves every request and applies every event, so more nodes add read capacity and availability, not write throughput."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1
    error_message = "node_count must be at least 1."
  }
}

variable "node_cpu" {
  description = "Fargate CPU units per node (1024 = one vCPU)."
  type        = number
  default     = 2048
}

variable "node_memory" {
  description = "Fargate memory per node in MiB; must be a valid pairing with node_cpu."
  type        = number
  default     = 8192
}

variable "node_ephemeral_storage_gib" {
  description = "Fargate ephemeral storage per node in GiB (21 to 200): holds the projection cache under /data (see docs/operations.md, Sizing). Past 200 GiB of projection, run the nodes on EC2 or EKS with a larger disk."
  type        = number
  default     = 100

  validation {
    condition     = var.node_ephemeral_storage_gib >= 21 && var.node_ephemeral_storage_gib <= 200
    error_message = "Fargate ephemeral storage is 21 to 200 GiB."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; must match the image."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture is X86_64 or ARM64."
  }
}

variable "node_start_grace_seconds" {
  description = "Seconds after a task starts during which failed load balancer checks do not count: a new node rebuilds its projection from the newest snapshot plus the log tail before /ready answers 200."
  type        = number
  default     = 900
}

variable "aet" {
  description = "The archive's AE title (ARCSTREAM_AET); DICOMweb is served under /aets/{aet}/rs."
  type        = string
  default     = "ARCSTREAM"
}

variable "snapshot_events" {
  description = "Events between two projection snapshots (ARCSTREAM_SNAPSHOT_EVENTS). Smaller: a new node replays a shorter tail; larger: fewer snapshot uploads."
  type        = number
  default     = 100000
}

variable "rust_log" {
  description = "Log filter of the nodes (RUST_LOG)."
  type        = string
  default     = "arcstream=info,arc_=info,warn"
}

variable "extra_environment" {
  description = "Further ARCSTREAM_* settings of the nodes (e.g. ARCSTREAM_MAX_REQUEST_BYTES), by environment name."
  type        = map(string)
  default     = {}
}

# --- the archive: bucket -----------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the archive bucket; default: {name}-archive-{account}-{region}."
  type        = string
  default     = null
}

variable "store_prefix" {
  description = "Key prefix of the archive inside the bucket (the path of ARCSTREAM_STORE)."
  type        = string
  default     = "archive"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.store_prefix))
    error_message = "store_prefix: lower case letters, digits and dashes, no slashes."
  }
}

variable "noncurrent_version_days" {
  description = "Days a deleted or overwritten object stays recoverable as a non-current version. This is both the window in which an operator error can be undone and the delay after which a purged study is really gone."
  type        = number
  default     = 30
}

variable "object_lock_days" {
  description = "Default object lock retention (GOVERNANCE mode) in days; 0 disables object lock. Decide at creation: turning it on later replaces the bucket (which prevent_destroy refuses). Locked objects cannot be purged before their retention ends without s3:BypassGovernanceRetention."
  type        = number
  default     = 0
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the archive's KMS key is deleted after being scheduled for deletion. Losing the key loses the archive."
  type        = number
  default     = 30
}

# --- the archive: event log ------------------------------------------------------------

variable "msk_kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_count" {
  description = "Number of brokers: a multiple of the number of private subnets, and at least topic_replication_factor."
  type        = number
  default     = 3
}

variable "msk_broker_volume_gib" {
  description = "Initial EBS volume per broker in GiB. The log never expires, so storage auto scaling grows it up to msk_broker_volume_max_gib."
  type        = number
  default     = 100
}

variable "msk_broker_volume_max_gib" {
  description = "Largest EBS volume per broker storage auto scaling may grow to, in GiB."
  type        = number
  default     = 2000
}

variable "topic" {
  description = "Kafka topic of the event log (one partition; the node creates it or checks it)."
  type        = string
  default     = "arcstream-events"
}

variable "topic_replication_factor" {
  description = "Replicas of the log topic."
  type        = number
  default     = 3
}

variable "topic_min_insync_replicas" {
  description = "Replicas that must hold an event before its append is acknowledged; below replication_factor so one broker can be down without stopping writes."
  type        = number
  default     = 2

  validation {
    condition     = var.topic_min_insync_replicas >= 1
    error_message = "topic_min_insync_replicas must be at least 1 (2 in production)."
  }
}

# --- operations ------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Days CloudWatch keeps node and broker logs."
  type        = number
  default     = 90
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or clears."
  type        = list(string)
  default     = []
}
