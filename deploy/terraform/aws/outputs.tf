output "alb_dns_name" {
  description = "DNS name of the load balancer: point each of domain_names at it (CNAME, or a Route 53 alias with alb_zone_id)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the load balancer, for Route 53 alias records."
  value       = aws_lb.this.zone_id
}

output "instance_id" {
  description = "Application instance; open a shell with: aws ssm start-session --target <instance_id>."
  value       = aws_instance.app.id
}

output "secret_arn" {
  description = "Secrets Manager secret holding jwt_secret_key (and database_url with RDS); the instance role can read only this one."
  value       = aws_secretsmanager_secret.app.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the API's JSON logs."
  value       = aws_cloudwatch_log_group.app.name
}

output "vpc_id" {
  description = "The VPC created for the stack."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets (application and database)."
  value       = aws_subnet.private[*].id
}

output "db_endpoint" {
  description = "RDS endpoint (host:port), or null without create_database. The credentials are only in the secret."
  value       = var.create_database ? aws_db_instance.this[0].endpoint : null
}

output "kms_key_arn" {
  description = "Customer-managed key encrypting the secret, logs, volume and database."
  value       = aws_kms_key.this.arn
}
