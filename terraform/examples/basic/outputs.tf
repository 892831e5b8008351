output "dicomweb_url" {
  description = "Base URL of DICOMweb."
  value       = module.arcstream.dicomweb_url
}

output "bucket_name" {
  description = "The archive bucket."
  value       = module.arcstream.bucket_name
}

output "log_uri" {
  description = "The event log URI the nodes use."
  value       = module.arcstream.log_uri
}

output "store_uri" {
  description = "The object store URI the nodes use."
  value       = module.arcstream.store_uri
}
