terraform {
  # 1.5: preconditions in lifecycle blocks, optional attributes, `check` blocks.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: the split S3 bucket resources and MSK's cluster_uuid; 6.x renames
      # data.aws_region's `name`, so stay below it until that is followed.
      version = ">= 5.40, < 6.0"
    }
  }
}
