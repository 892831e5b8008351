variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "arcstream"
}

variable "vpc_id" {
  description = "An existing VPC with private subnets (and a NAT gateway or ECR endpoints)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets in three availability zones."
  type        = list(string)
}

variable "private_route_table_ids" {
  description = "Route tables of those subnets (for the S3 gateway endpoint)."
  type        = list(string)
  default     = []
}

variable "allowed_cidrs" {
  description = "Networks of the modalities, viewers and RIS that use the archive."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the archive's host name."
  type        = string
}

variable "image" {
  description = "The node image in ECR, e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/arcstream:0.1.0."
  type        = string
}

variable "alarm_email" {
  description = "Where alarms are sent; the subscription must be confirmed from the mail."
  type        = string
}
