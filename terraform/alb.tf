# HTTP entry: an application load balancer that sends requests only to ready nodes.
# DIMSE (TCP 11112) would need a network load balancer; it is not served yet.

resource "aws_lb" "http" {
  name               = "${var.name}-http"
  load_balancer_type = "application"
  internal           = var.alb_internal
  subnets            = var.alb_internal ? var.private_subnet_ids : var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]
  # STOW-RS of a large study and WADO-RS of one stream for minutes: the idle timeout is
  # the longest a connection may sit without a byte moving. ALBs have no body size limit.
  idle_timeout               = 3600
  drop_invalid_header_fields = true
  tags                       = local.tags

  lifecycle {
    precondition {
      condition     = var.alb_internal || length(var.public_subnet_ids) >= 2
      error_message = "An internet-facing load balancer needs public_subnet_ids in at least two availability zones."
    }
  }
}

resource "aws_lb_target_group" "http" {
  name        = "${var.name}-nodes"
  port        = local.http_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  tags        = local.tags

  load_balancing_algorithm_type = "least_outstanding_requests"
  deregistration_delay          = 60

  # /ready: the node's projection is caught up within its bound. A node that falls behind
  # leaves the rotation until it catches up. On ECS a target that stays unhealthy is also
  # replaced, so the thresholds are generous: about a minute of failures, after the start
  # grace period (docs/operations.md, Monitoring).
  health_check {
    path                = "/ready"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 4
  }
}

resource "aws_lb_listener" "https" {
  count             = var.certificate_arn == null ? 0 : 1
  load_balancer_arn = aws_lb.http.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.http.arn
  port              = 80
  protocol          = "HTTP"

  # With a certificate, port 80 only redirects to HTTPS; without one it serves.
  dynamic "default_action" {
    for_each = var.certificate_arn == null ? [] : [1]
    content {
      type = "redirect"
      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  dynamic "default_action" {
    for_each = var.certificate_arn == null ? [1] : []
    content {
      type             = "forward"
      target_group_arn = aws_lb_target_group.http.arn
    }
  }
}
