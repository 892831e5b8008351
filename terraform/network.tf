# Who may talk to whom: clients → load balancer → nodes → brokers. The bucket is reached
# over HTTPS with the task role (bucket.tf denies anything else).

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "arcstream load balancer: DICOMweb clients in, nodes out"
  vpc_id      = var.vpc_id
  tags        = local.tags

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.alb_ingress_cidrs
  }

  ingress {
    description = "HTTP (redirect to HTTPS, or plain HTTP without a certificate)"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = var.alb_ingress_cidrs
  }

  egress {
    description = "to the nodes"
    from_port   = local.http_port
    to_port     = local.http_port
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "nodes" {
  name_prefix = "${var.name}-nodes-"
  description = "arcstream nodes: HTTP from the load balancer; out to MSK, S3, ECR, CloudWatch"
  vpc_id      = var.vpc_id
  tags        = local.tags

  ingress {
    description     = "DICOMweb and probes from the load balancer"
    from_port       = local.http_port
    to_port         = local.http_port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  egress {
    description = "brokers, S3, image registry, logs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "msk" {
  name_prefix = "${var.name}-msk-"
  description = "arcstream event log brokers: Kafka clients from the nodes only"
  vpc_id      = var.vpc_id
  tags        = local.tags

  ingress {
    description     = "Kafka plaintext (9092), TLS (9094), SASL/SCRAM (9096) and IAM (9098) from the nodes"
    from_port       = 9092
    to_port         = 9098
    protocol        = "tcp"
    security_groups = [aws_security_group.nodes.id]
  }

  lifecycle {
    create_before_destroy = true
  }
}
