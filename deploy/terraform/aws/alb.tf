# Public Application Load Balancer: terminates TLS with the ACM certificate, redirects HTTP to HTTPS and
# forwards to the application's port, which only this load balancer's security group may reach.

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "Fortress ALB: HTTP and HTTPS from clients, the app port to the instance only"
  vpc_id      = aws_vpc.this.id

  lifecycle {
    create_before_destroy = true
  }
}

# A public website answers the whole internet; alb_ingress_cidrs narrows it when that is not wanted.
#trivy:ignore:AVD-AWS-0107
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# Port 80 only ever answers with a redirect to HTTPS.
#trivy:ignore:AVD-AWS-0107
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API on the application instance"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.app.id
}

# Internet-facing by design: it is the public entry point, in front of private targets.
#trivy:ignore:AVD-AWS-0053
resource "aws_lb" "this" {
  name               = var.name
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = aws_subnet.public[*].id

  # Requests with malformed header names never reach the API (request smuggling defence).
  drop_invalid_header_fields = true
  # Answer slow clients' idle connections no longer than the API's own idle timeout.
  idle_timeout               = 60
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_target_group" "app" {
  name_prefix = "ftrs-"
  port        = var.app_port
  protocol    = "HTTP"
  vpc_id      = aws_vpc.this.id
  target_type = "instance"

  # Give in-flight requests the API's shutdown grace period (FORTRESS_SHUTDOWN_TIMEOUT, 15 s) and more.
  deregistration_delay = 30

  health_check {
    # Readiness, not liveness: /readyz is 503 while the database is unreachable, the schema is behind
    # or the process is draining, so the ALB stops sending traffic then. It skips the Host check.
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group_attachment" "app" {
  target_group_arn = aws_lb_target_group.app.arn
  target_id        = aws_instance.app.id
  port             = var.app_port
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  # TLS ends here, so the ALB sets HSTS on every HTTPS response. (Fortress adds it itself only when it
  # knows the request came over HTTPS: its own TLS, or X-Forwarded-Proto from FORTRESS_TRUSTED_PROXIES.)
  routing_http_response_strict_transport_security_header_value = var.hsts_header

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}
