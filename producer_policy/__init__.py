"""The APIM producer policy: rendering the deployable files, and running them locally under Mono."""
