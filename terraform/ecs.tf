# The nodes: N identical Fargate tasks. Each keeps its projection (state store + index) on
# the task's ephemeral storage, which dies with the task: that is fine, because a new task
# rebuilds it from the newest snapshot in the bucket plus the log tail.

resource "aws_ecs_cluster" "nodes" {
  name = var.name
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "node" {
  family                   = "${var.name}-node"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.node_cpu
  memory                   = var.node_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  tags                     = local.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  ephemeral_storage {
    size_in_gib = var.node_ephemeral_storage_gib
  }

  # The image declares VOLUME /data owned by the node's user: ECS copies that directory
  # (and its owner) into this bind mount, so the non-root process can write it.
  volume {
    name = "projection"
  }

  container_definitions = jsonencode([
    {
      name        = local.container_name
      image       = var.image
      essential   = true
      command     = ["serve"]
      stopTimeout = 60
      portMappings = [
        { name = "http", containerPort = local.http_port, protocol = "tcp" },
        { name = "dimse", containerPort = local.dimse_port, protocol = "tcp" },
      ]
      environment = [for k, v in local.node_environment : { name = k, value = v }]
      mountPoints = [
        { sourceVolume = "projection", containerPath = "/data", readOnly = false },
      ]
      # Liveness only (/health): readiness is the load balancer's check on /ready.
      healthCheck = {
        command     = ["CMD", "curl", "-fsS", "http://localhost:${local.http_port}/health"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 300
      }
      ulimits = [
        { name = "nofile", softLimit = 65536, hardLimit = 65536 },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.nodes.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "node"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "nodes" {
  name             = "${var.name}-nodes"
  cluster          = aws_ecs_cluster.nodes.id
  task_definition  = aws_ecs_task_definition.node.arn
  desired_count    = var.node_count
  launch_type      = "FARGATE"
  platform_version = "1.4.0"
  propagate_tags   = "SERVICE"
  tags             = local.tags

  # A new task is started and must pass /ready before an old one is stopped, so an upgrade
  # never lowers capacity; a version that never gets ready is rolled back.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.node_start_grace_seconds

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.nodes.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.http.arn
    container_name   = local.container_name
    container_port   = local.http_port
  }

  depends_on = [aws_lb_listener.http, aws_lb_listener.https, aws_iam_role_policy.task]
}
