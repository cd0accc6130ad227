# version: keyctl-go names itself here, so this record is checked by shape.
run --version
