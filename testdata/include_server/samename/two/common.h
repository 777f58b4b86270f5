#error "two/common.h must not be used"
