# A hospital-internal archive: internal load balancer with HTTPS, three nodes, three
# brokers, alarms by mail. `terraform init && terraform plan -var-file=terraform.tfvars`.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project = "arcstream"
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarms" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "arcstream" {
  source = "../.."

  name                    = var.name
  vpc_id                  = var.vpc_id
  private_subnet_ids      = var.private_subnet_ids
  private_route_table_ids = var.private_route_table_ids
  alb_internal            = true
  alb_ingress_cidrs       = var.allowed_cidrs
  certificate_arn         = var.certificate_arn
  image                   = var.image

  node_count               = 3
  node_cpu                 = 2048
  node_memory              = 8192
  msk_broker_count         = 3
  topic_replication_factor = 3
  noncurrent_version_days  = 30

  alarm_actions = [aws_sns_topic.alarms.arn]
}
