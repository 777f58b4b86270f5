/* plat_b */
