"""Every S3 bucket has all four public access blocks on."""

from __future__ import annotations

from collections.abc import Sequence

from policy.rules.common import Finding, Resource

NAME = "s3-public-access-block"
DESCRIPTION = ("Every S3 bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
               "ignorePublicAcls and restrictPublicBuckets all true.")
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def check_stack(resources: Sequence[Resource]) -> list[Finding]:
    """Buckets without a complete public access block, and incomplete blocks."""
    findings = []
    blocked: set[str] = set()
    for resource in resources:
        if resource.type != BLOCK:
            continue
        off = [flag for flag in FLAGS if resource.props.get(flag) is not True]
        if off:
            findings.append(Finding(resource.name, f"{', '.join(off)} not true: the bucket could be made public "
                                    "by an ACL or a policy; set all four flags to true", resource.urn))
        else:
            blocked.add(str(resource.props.get("bucket", "")))
    for resource in resources:
        if resource.type in BUCKETS:
            bucket = str(resource.props.get("bucket") or resource.name)
            if bucket not in blocked:
                findings.append(Finding(resource.name, f"bucket {bucket} has no complete public access block: add "
                                        "an aws.s3.BucketPublicAccessBlock with all four flags true",
                                        resource.urn))
    return findings
